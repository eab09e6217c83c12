// The report page (html.hpp). Everything is drawn here as inline SVG in
// one string: no template engine and no chart library, so the simulator
// stays pure and the page has nothing to fetch. The report is read
// defensively (a missing or mistyped key is an empty figure), because the
// page is also made from report files that other versions wrote.
#include "assay/sim/html.hpp"

#include "html_style.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assay::sim {
namespace {

using Json = nlohmann::ordered_json;

// Beyond this many clients the timeline has one row per name prefix.
constexpr std::size_t max_rows = 60;
// The figures' width in SVG units; they scale to the page (and scroll
// sideways below a minimum width, where their text would be too small).
constexpr double fig_w = 960;

// --- Reading the report ------------------------------------------------

const Json& at(const Json& j, const char* key) {
  static const Json none;
  if (!j.is_object()) return none;
  const auto it = j.find(key);
  return it == j.end() ? none : *it;
}

double num(const Json& j, double fallback = 0) {
  return j.is_number() ? j.get<double>() : fallback;
}

// Numbers as JSON writes them: a 64-bit seed keeps every digit.
std::string str(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json& arr(const Json& j) {
  static const Json empty = Json::array();
  return j.is_array() ? j : empty;
}

const Json& obj(const Json& j) {
  static const Json empty = Json::object();
  return j.is_object() ? j : empty;
}

// --- Text ----------------------------------------------------------------

// Client ids, topics and details come from scenario files: every text is
// escaped, and control characters (which HTML does not allow) replaced.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  constexpr std::string_view special = "&<>\"'";
  constexpr const char* entity[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
  for (const char c : s) {
    if (const std::size_t i = special.find(c); i != std::string_view::npos) {
      out += entity[i];
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Appends its parts: GCC 12 at -O3 warns falsely (-Wrestrict) on some
// "literal" + std::string expressions.
template <typename... T>
void put(std::string& o, const T&... parts) {
  (o.append(parts), ...);
}

// An SVG coordinate.
std::string px(double v) {
  return fmt("%.1f", v);
}

// SVG elements; a tooltip is plain text (escaped here), `html` is markup.
std::string tooltip(const std::string& tip) {
  return tip.empty() ? std::string() : "<title>" + esc(tip) + "</title>";
}

std::string element(std::string_view tag, std::string_view cls,
                    std::initializer_list<std::pair<const char*, std::string>> attributes,
                    std::string_view content) {
  std::string o;
  put(o, "<", tag, cls.empty() ? "" : " class=\"", cls, cls.empty() ? "" : "\"");
  for (const auto& [name, value] : attributes)
    put(o, " ", name, "=\"", value, "\"");
  put(o, ">", content, "</", tag, ">");
  return o;
}

std::string line(std::string_view cls, double x1, double y1, double x2, double y2,
                 const std::string& tip = "") {
  return element("line", cls, {{"x1", px(x1)}, {"y1", px(y1)}, {"x2", px(x2)}, {"y2", px(y2)}},
                 tooltip(tip));
}

std::string rect(std::string_view cls, double x, double y, double w, double h,
                 const std::string& tip = "") {
  return element("rect", cls, {{"x", px(x)}, {"y", px(y)}, {"width", px(w)}, {"height", px(h)}},
                 tooltip(tip));
}

std::string text(double x, double y, const char* anchor, std::string_view html,
                 std::string_view cls = "") {
  return element("text", cls, {{"x", px(x)}, {"y", px(y)}, {"text-anchor", anchor}}, html);
}

std::string grouped(double v) {
  std::string digits = fmt("%.0f", v);
  std::string out;
  const std::size_t first = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > first && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string seconds(double s) {
  return fmt("%.6g", s) + " s";
}

std::string micros(double us) {
  if (us < 1000) return fmt("%.0f", us) + " µs";
  if (us < 1e6) return fmt("%.3g", us / 1e3) + " ms";
  return fmt("%.4g", us / 1e6) + " s";
}

std::string truncated(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  std::size_t cut = n - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;  // not inside a UTF-8 sequence
  return s.substr(0, cut) + "…";
}

// Axis ticks at 1, 2 or 5 times a power of ten.
double tick_step(double range, double target) {
  if (!(range > 0)) return 1;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

std::string tick_label(double v) {
  if (v >= 1e6) return fmt("%.3g", v / 1e6) + "M";
  if (v >= 1e4) return fmt("%.3g", v / 1e3) + "k";
  return fmt("%.6g", v);
}

// --- The run's figures ---------------------------------------------------

struct Span {
  std::string client;
  double from = 0;
  double to = 0;
};

// In the order of how much they tell: a line with several takes the last.
enum class MarkKind { stage, recovery, fault, heal };

MarkKind kind_of(const std::string& what) {
  if (what == "heal") return MarkKind::heal;
  if (what.rfind("stage ", 0) == 0) return MarkKind::stage;
  if (what.rfind("repair", 0) == 0 || what.find(" restarts") != std::string::npos)
    return MarkKind::recovery;
  return MarkKind::fault;
}

struct Mark {
  double t = 0;
  std::string what;
  MarkKind kind = kind_of(what);
};

const char* mark_class(MarkKind k) {
  return std::array{"m-stage", "m-rec", "m-fault", "m-heal"}[static_cast<std::size_t>(k)];
}

struct Figures {
  double duration = 0;
  double heal = -1;  // none
  std::vector<Span> spans;
  std::vector<Mark> marks;
  std::vector<double> per_s;

  double x(double t, double x0, double w) const { return x0 + w * t / duration; }
};

Figures read_figures(const Json& r) {
  Figures f;
  f.duration = num(at(r, "simulated_s"));
  for (const Json& c : arr(at(r, "connections")))
    f.spans.push_back(Span{str(at(c, "client")), num(at(c, "from_s")), num(at(c, "to_s"), -1)});
  for (const Json& m : arr(at(r, "faults"))) {
    const Mark& k = f.marks.emplace_back(Mark{num(at(m, "t_s")), str(at(m, "what"))});
    if (k.kind == MarkKind::heal && f.heal < 0) f.heal = k.t;
  }
  for (const Json& v : arr(at(r, "deliveries_per_s")))
    f.per_s.push_back(num(v));
  // A report without its duration still gets an axis that holds its data.
  double end = std::max(f.duration, static_cast<double>(f.per_s.size()));
  for (const Span& s : f.spans)
    end = std::max({end, s.from, s.to});
  for (const Mark& m : f.marks)
    end = std::max(end, m.t);
  f.duration = end > 0 ? end : 1;
  for (Span& s : f.spans) {
    if (s.to < s.from) s.to = f.duration;  // still open at the end
  }
  return f;
}

// A time axis under a plot: ticks, their labels and a title.
void time_axis(std::string& o, const Figures& f, double x0, double w, double y) {
  o += line("axis", x0, y, x0 + w, y);
  const double step = tick_step(f.duration, 10);
  for (double t = 0; t <= f.duration + step * 1e-9; t += step) {
    const double x = f.x(t, x0, w);
    o += line("axis", x, y, x, y + 4) + text(x, y + 15, "middle", tick_label(t));
  }
  o += text(x0 + w, y + 28, "end", "virtual time (s)", "muted");
}

// --- Header ------------------------------------------------------------------

struct VerdictLook {
  const char* cls;
  std::string text;
};

VerdictLook look(const std::string& verdict) {
  if (verdict == "ok") return {"v-ok", "guarantees held"};
  if (verdict == "correctness") return {"v-bad", "correctness violated"};
  if (verdict == "liveness") return {"v-warn", "liveness failed"};
  if (verdict == "crash") return {"v-crash", "crashed"};
  return {"v-unknown", verdict.empty() ? "no verdict" : verdict};
}

// Quoted for a POSIX shell when the path needs it, so the line can be pasted.
std::string shell_word(const std::string& s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("_./-+:=@,%").find(c) != std::string_view::npos;
  });
  if (plain) return s;
  std::string out = "'";
  for (const char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void header(std::string& o, const Json& r, const Figures& f) {
  const std::string verdict = str(at(r, "verdict"));
  const VerdictLook v = look(verdict);
  const Json& findings = arr(at(r, "findings"));
  const Json& stats = at(r, "stats");
  const std::string scenario = str(at(r, "scenario"));
  o += "<header><h1>assay sim: " + esc(scenario.empty() ? "(unnamed scenario)" : scenario) +
       "</h1><div class=\"verdict\"><span class=\"badge " + v.cls + "\">" + esc(v.text) +
       "</span><span class=\"why\">";
  if (verdict == "ok") {
    o += "No checker found a violation, during the faults or after the heal.";
  } else if (verdict == "crash") {
    o += "The code under test threw; the checkers saw the run only up to there.";
  } else if (!findings.empty()) {
    const Json& first = findings[0];
    o += std::to_string(findings.size()) + (findings.size() == 1 ? " finding" : " findings") +
         " kept; the first: <b>" + esc(str(at(first, "invariant"))) + "</b> at " +
         esc(seconds(num(at(first, "t_s")))) + ".";
  }
  o += "</span></div>";
  if (!str(at(r, "crash")).empty())
    o += "<pre class=\"crash\">" + esc(str(at(r, "crash"))) + "</pre>";

  const std::string file = str(at(r, "scenario_file"));
  const std::string replay = "assay sim " +
                             (file.empty() ? std::string() : shell_word(file) + " ") + "--seed " +
                             str(at(r, "seed"));
  if (!str(at(r, "seed")).empty())
    o += "<p class=\"replay\">Replay: <code>" + esc(replay) + "</code></p>";
  o += "<dl class=\"facts\">";
  std::string sim = esc(seconds(num(at(r, "simulated_s"))));
  if (f.heal >= 0) sim += " <span class=\"muted\">(heal at " + esc(seconds(f.heal)) + ")</span>";
  auto stat = [&](const char* key) { return grouped(num(at(stats, key))); };
  const std::pair<const char*, std::string> facts[] = {
      {"Seed", esc(str(at(r, "seed")))},
      {"Mode", esc(str(at(r, "mode")))},
      {"Simulated", sim},
      {"Events", stat("events")},
      {"Messages", stat("published") + " <span class=\"muted\">published</span>, " +
                       stat("delivered") + " <span class=\"muted\">delivered</span>"},
      {"Connections", stat("connections")},
      {"Faults", stat("faults")},
      {"Bytes", stat("bytes")},
      {"Trace hash", "<code>" + esc(str(at(r, "trace_hash"))) + "</code>"}};
  for (const auto& [name, value] : facts)
    put(o, "<div><dt>", name, "</dt><dd>", value, "</dd></div>");
  o += "</dl><nav><a href=\"#verdicts\">Checkers</a> · <a href=\"#timeline\">Timeline</a> · "
       "<a href=\"#throughput\">Throughput</a> · <a href=\"#latency\">Latency</a></nav></header>";
}

// --- Checker verdicts ----------------------------------------------------

// Whether this simulator's checkers watch an invariant (src/checkers/;
// the wire checker only when the wire is decoded, without --no-wire).
enum class Watched { no, yes, wire };

// The invariants of docs/guarantees.md and the counts their checkers keep
// (a count may serve several: "ok" and "lost" are L1's and L2's).
struct Invariant {
  const char* id;
  const char* title;
  const char* keys;  // space-separated
  Watched watched;
};

constexpr Invariant catalog[] = {
    {"S1", "Nothing invented", "unexpected", Watched::yes},
    {"S2", "QoS lowered, never raised", "", Watched::yes},
    {"S3", "QoS 0 at most once", "duplicated", Watched::yes},
    {"S4", "QoS 2 never twice",
     "duplicated duplicated_after_session_loss duplicated_by_client_amnesia", Watched::yes},
    {"S5", "Packet identifiers", "resent_without_dup", Watched::wire},
    {"S6", "Resent only on resumption", "resent_on_same_connection", Watched::wire},
    {"S7", "Acknowledgement order", "ack_out_of_order", Watched::wire},
    {"S8", "Message order", "out_of_order", Watched::yes},
    {"S9", "The retained store", "", Watched::no},
    {"S10", "Retained messages on subscribe", "retained_ok retained_wrong", Watched::yes},
    {"S11", "RETAIN on live messages", "", Watched::yes},
    {"S12", "No Will after a normal end", "will_spurious", Watched::yes},
    {"S13", "A Will once, as given", "will_dup will_redelivered", Watched::yes},
    {"S14", "Will Delay and resumption", "", Watched::no},
    {"S15", "Session Present", "spurious_session session_lost connack_before_crash", Watched::yes},
    {"S16", "Message expiry", "", Watched::no},
    {"S17", "Flow control", "over_receive_maximum", Watched::wire},
    {"S18", "No Local", "", Watched::no},
    {"S19", "Takeover", "", Watched::no},
    {"S20", "Protocol hygiene", "violations", Watched::yes},
    {"L1", "QoS 1 arrives", "ok lost recovered excused dropped_qos0", Watched::yes},
    {"L2", "QoS 2 arrives once", "ok lost recovered excused lost_to_client_amnesia", Watched::yes},
    {"L3", "Exchanges finish", "never_completed not_reconnected stuck abandoned", Watched::yes},
    {"L4", "Due Wills are published", "will_ok will_missing will_dropped will_dropped_qos0",
     Watched::yes},
    {"L5", "Silent clients are noticed", "", Watched::no},
    {"L6", "Expired sessions go", "", Watched::no},
};

// Counts that only ever grow when something broke.
constexpr const char* bad_keys =
    "unexpected duplicated resent_without_dup resent_on_same_connection ack_out_of_order "
    "out_of_order retained_wrong will_spurious will_dup spurious_session session_lost "
    "over_receive_maximum violations lost never_completed not_reconnected stuck will_missing";

// Whether a space-separated list holds a word.
bool has(std::string_view list, const std::string& word) {
  for (std::size_t i = 0; (i = list.find(word, i)) != std::string_view::npos; i += word.size()) {
    const std::size_t e = i + word.size();
    if ((i == 0 || list[i - 1] == ' ') && (e == list.size() || list[e] == ' ')) return true;
  }
  return false;
}

void invariants_table(std::string& o, const Json& r) {
  const Json& counts = at(r, "counts");
  std::map<std::string, std::size_t> found;  // invariant -> findings kept
  for (const Json& x : arr(at(r, "findings")))
    ++found[str(at(x, "invariant"))];
  // A bad count is explained when a finding of one of its invariants was
  // kept; otherwise its findings fell beyond the first ten.
  auto explained = [&](const std::string& key) {
    return std::any_of(std::begin(catalog), std::end(catalog), [&](const Invariant& inv) {
      return has(inv.keys, key) && found.count(inv.id) != 0;
    });
  };
  std::string rows;
  std::set<std::string> listed;
  auto row = [&](const std::string& id, const std::string& title, std::string_view keys) {
    std::string cells;
    bool broken = false;
    for (const auto& [k, c] : obj(counts).items()) {
      if (!has(keys, k) || !c.is_number()) continue;
      const bool bad = has(bad_keys, k) && num(c) > 0;
      broken = broken || (bad && !explained(k));
      std::string shared;  // the invariants a count serves together
      for (const Invariant& inv : catalog)
        if (has(inv.keys, k)) shared += std::string(shared.empty() ? "" : " and ") + inv.id;
      cells += std::string("<span class=\"chip") + (bad ? " bad" : "") + "\" title=\"counted for " +
               shared + "\">" + esc(k) + " " + grouped(num(c)) + "</span> ";
    }
    const std::size_t n = found.count(id) != 0 ? found.at(id) : 0;
    if (cells.empty() && n == 0) return;
    listed.insert(id);
    const bool live = !id.empty() && id[0] == 'L';
    std::string status = "<span class=\"st-ok\">held</span>";
    if (n > 0 || broken) {
      status = std::string("<span class=\"") + (live ? "st-warn" : "st-bad") + "\">" +
               (live ? "failed" : "violated") + (n == 0 ? " (no finding kept)" : "") + "</span>";
    }
    // The status comes second: it is what a narrow window must still show.
    rows += "<tr><td><b>" + esc(id) + "</b></td><td>" + status + "</td><td>" + esc(title) +
            "</td><td>" + std::to_string(n) + "</td><td>" +
            (cells.empty() ? "<span class=\"muted\">–</span>" : cells) + "</td></tr>";
  };
  for (const Invariant& inv : catalog)
    row(inv.id, inv.title, inv.keys);
  for (const auto& [id, n] : found) {
    (void)n;
    if (listed.count(id) == 0) row(id, "", "");
  }
  o += "<h3>Invariants</h3>";
  if (rows.empty()) {
    o += "<p class=\"muted\">The report has no counts and no findings.</p>";
  } else {
    o += "<div "
         "class=\"scroll\"><table><thead><tr><th>Invariant</th><th>Status</th><th>Guarantee</th>"
         "<th>Findings</th><th>Counted</th></tr></thead><tbody>" +
         rows + "</tbody></table></div>";
  }
  // Checkers count only what happened: an invariant that held quietly has
  // no row, so name those too.
  std::string quiet;
  bool wire = false;
  for (const Invariant& inv : catalog) {
    if (inv.watched == Watched::no || listed.count(inv.id) != 0) continue;
    quiet += std::string(quiet.empty() ? "" : " · ") + "<span title=\"" + inv.title + "\">" +
             inv.id + (inv.watched == Watched::wire ? "*" : "") + "</span>";
    wire = wire || inv.watched == Watched::wire;
  }
  if (!quiet.empty() && !str(at(r, "verdict")).empty()) {
    o += "<p class=\"small\">Also watched, with nothing counted or found against them: " + quiet +
         (wire ? " <span class=\"muted\">(* when the wire is decoded: not with "
                 "<code>--no-wire</code>)</span>"
               : "") +
         "</p>";
  }
  // Counts no invariant claims, so that the table hides nothing.
  std::string other;
  for (const auto& [k, v] : obj(counts).items()) {
    if (std::none_of(std::begin(catalog), std::end(catalog),
                     [&](const Invariant& inv) { return has(inv.keys, k); }))
      other += "<span class=\"chip\">" + esc(k) + " " + esc(str(v)) + "</span> ";
  }
  if (!other.empty()) o += "<p class=\"small\">Other counts: " + other + "</p>";
}

void findings_list(std::string& o, const Json& r) {
  const Json& findings = arr(at(r, "findings"));
  o += "<h3>Findings</h3>";
  if (findings.empty()) {
    o += "<p class=\"muted\">None.</p>";
    return;
  }
  if (findings.size() >= 10)
    o += "<p class=\"muted small\">Only the first findings are kept; the counts above cover the "
         "whole run.</p>";
  bool first = true;
  for (const Json& x : findings) {
    const bool live = at(x, "liveness").is_boolean() && at(x, "liveness").get<bool>();
    const Json& window = arr(at(x, "window"));
    o += std::string("<div class=\"finding") + (live ? " live" : "") +
         "\"><div class=\"fhead\"><b>" + esc(str(at(x, "invariant"))) + "</b> <code>" +
         esc(str(at(x, "statement"))) + "</code> <span class=\"muted\">at " +
         esc(seconds(num(at(x, "t_s")))) + " · " + (live ? "after the heal" : "safety") +
         " · checker " + esc(str(at(x, "checker"))) + "</span></div><p class=\"detail\">" +
         esc(str(at(x, "detail"))) + "</p>";
    if (!window.empty()) {
      o += std::string("<details") + (first ? " open" : "") + "><summary>Trace: the " +
           std::to_string(window.size()) + " lines before it</summary><pre>";
      for (std::size_t i = 0; i < window.size(); ++i) {
        // The last line of a safety finding's window is the event that showed it.
        const bool hit = !live && i + 1 == window.size();
        o += (hit ? "<b class=\"hit\">" : "") + esc(str(window[i])) + (hit ? "</b>" : "") + "\n";
      }
      o += "</pre></details>";
    }
    o += "</div>";
    first = false;
  }
}

// --- Timeline ------------------------------------------------------------

struct Row {
  std::string label;
  std::vector<std::pair<double, double>> spans;
  std::size_t clients = 0;  // more than one: an aggregate row
};

std::vector<Row> timeline_rows(const Figures& f, bool& grouped_rows) {
  std::map<std::string, std::vector<std::pair<double, double>>> by_client;
  for (const Span& s : f.spans)
    by_client[s.client].emplace_back(s.from, s.to);
  std::vector<Row> rows;
  grouped_rows = by_client.size() > max_rows;
  if (!grouped_rows) {
    for (auto& [name, spans] : by_client)
      rows.push_back(Row{name, std::move(spans), 1});
    return rows;
  }
  // "sensor-0042" belongs to "sensor-*"; a name without '-' stands alone.
  std::map<std::string, Row> groups;
  for (auto& [name, spans] : by_client) {
    const std::size_t dash = name.rfind('-');
    const std::string key = dash == std::string::npos ? name : name.substr(0, dash + 1) + "*";
    Row& g = groups[key];
    g.label = key;
    g.spans.insert(g.spans.end(), spans.begin(), spans.end());
    ++g.clients;
  }
  for (auto& [key, g] : groups) {
    if (rows.size() + 1 < max_rows || groups.size() <= max_rows) {
      rows.push_back(std::move(g));
    } else {
      if (rows.back().label != "(others)") rows.push_back(Row{"(others)", {}, 0});
      Row& rest = rows.back();
      rest.spans.insert(rest.spans.end(), g.spans.begin(), g.spans.end());
      rest.clients += g.clients;
    }
  }
  return rows;
}

// How many of a group's clients are connected: the lowest number in each
// pixel column, so that a short dip (a reconnect storm) still shows.
std::string band(const Row& row, const Figures& f, double x0, double w, double base, double h) {
  std::vector<std::pair<double, int>> ev;
  for (const auto& [a, b] : row.spans) {
    ev.emplace_back(a, 1);
    ev.emplace_back(b, -1);
  }
  std::sort(ev.begin(), ev.end());  // at the same time, -1 first: a dip shows
  const auto cols = static_cast<std::size_t>(w);
  std::vector<int> lo(cols);
  std::size_t i = 0;
  int cur = 0;
  for (std::size_t c = 0; c < cols; ++c) {
    const double t1 = f.duration * static_cast<double>(c + 1) / static_cast<double>(cols);
    int low = cur;
    for (; i < ev.size() && ev[i].first < t1; ++i) {
      cur += ev[i].second;
      low = std::min(low, cur);
    }
    lo[c] = low;
  }
  const double n = static_cast<double>(std::max<std::size_t>(row.clients, 1));
  std::string d = "M" + px(x0) + "," + px(base);
  for (std::size_t c = 0; c < cols;) {
    std::size_t e = c;
    while (e < cols && lo[e] == lo[c])
      ++e;
    const double y = base - h * std::min(1.0, std::max(0, lo[c]) / n);
    put(d, "L", px(x0 + static_cast<double>(c)), ",", px(y), "L", px(x0 + static_cast<double>(e)),
        ",", px(y));
    c = e;
  }
  return "<path class=\"band\" d=\"" + d + "L" + px(x0 + w) + "," + px(base) + "Z\"/>";
}

// Fault marks: one line per pixel column (with every mark there in its
// tooltip), and labels in three lanes above the rows where they fit.
void fault_marks(std::string& o, const Figures& f, double x0, double w, double top, double bottom) {
  // Which mark names a line: the heal, else a stage (their names tell the
  // story), else the first; labels are placed in that order too.
  auto rank = [](MarkKind k) {
    return k == MarkKind::heal ? 0 : k == MarkKind::stage ? 1 : k == MarkKind::fault ? 2 : 3;
  };
  struct Group {
    double x;
    std::vector<const Mark*> marks;
    MarkKind kind = MarkKind::stage;
    const Mark* named = nullptr;
  };
  std::map<long, Group> at_x;
  for (const Mark& m : f.marks) {
    const long x = std::lround(f.x(m.t, x0, w));
    Group& g = at_x.try_emplace(x, Group{static_cast<double>(x), {}}).first->second;
    g.marks.push_back(&m);
    g.kind = std::max(g.kind, m.kind);
    if (g.named == nullptr || rank(m.kind) < rank(g.named->kind)) g.named = &m;
  }
  std::vector<const Group*> order;
  for (const auto& [x, g] : at_x)
    order.push_back(&g);
  std::stable_sort(order.begin(), order.end(), [&](const Group* a, const Group* b) {
    return rank(a->named->kind) < rank(b->named->kind);
  });
  std::vector<std::pair<double, double>> lanes[3];
  for (const Group* g : order) {
    std::string tip;
    for (std::size_t i = 0; i < g->marks.size() && i < 12; ++i)
      put(tip, i ? "\n" : "", seconds(g->marks[i]->t), ": ", g->marks[i]->what);
    if (g->marks.size() > 12) tip += "\n… and " + std::to_string(g->marks.size() - 12) + " more";
    std::string label = g->named->what;
    // "stage warm" reads as "warm"; an unnamed stage ("stage 3") keeps its word.
    if (label.rfind("stage ", 0) == 0 &&
        label.find_first_not_of("0123456789", 6) != std::string::npos)
      label = label.substr(6);
    label = truncated(label, 30);
    if (g->marks.size() > 1) label += " (+" + std::to_string(g->marks.size() - 1) + ")";
    const double tw = 5.6 * static_cast<double>(label.size()) + 6;
    const bool right = g->x + tw <= x0 + w;
    const double a = right ? g->x : g->x - tw;
    std::size_t lane = 3;  // none: the line has its tooltip only
    for (std::size_t l = 0; l < 3 && lane == 3; ++l) {
      if (std::all_of(lanes[l].begin(), lanes[l].end(),
                      [&](const auto& b) { return a + tw < b.first || a > b.second; }))
        lane = l;
    }
    const double y0 = lane == 3 ? top : 4 + 13 * static_cast<double>(lane);
    put(o, "<g class=\"mark ", mark_class(g->kind), "\">", tooltip(tip),
        line("", g->x, y0, g->x, bottom), line("hit", g->x, y0, g->x, bottom));
    if (lane < 3) {
      lanes[lane].emplace_back(a, a + tw);
      o += text(right ? g->x + 3 : g->x - 3, y0 + 9, right ? "start" : "end", esc(label));
    }
    o += "</g>";
  }
}

void timeline(std::string& o, const Figures& f) {
  o += "<section id=\"timeline\"><h2>Timeline</h2>";
  if (f.spans.empty() && f.marks.empty()) {
    o += "<p class=\"muted\">No connections and no faults.</p></section>";
    return;
  }
  bool grouped_rows = false;
  const std::vector<Row> rows = timeline_rows(f, grouped_rows);
  const double x0 = 160, w = fig_w - x0 - 16, top = 44, rh = grouped_rows ? 20 : 14;
  const double bottom = top + rh * static_cast<double>(rows.size());
  o += "<div class=\"fig\"><svg viewBox=\"0 0 " + px(fig_w) + " " + px(bottom + 36) +
       "\" role=\"img\" aria-label=\"connections and faults over virtual time\">";
  for (std::size_t i = 1; i < rows.size(); i += 2)
    o += rect("stripe", 0, top + rh * static_cast<double>(i), fig_w, rh);
  if (f.heal >= 0) {
    const double hx = f.x(f.heal, x0, w);
    o += rect("lphase", hx, 0, x0 + w - hx, bottom,
              "the liveness phase: after the heal, everything owed must arrive");
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const double y = top + rh * static_cast<double>(i);
    const std::string name =
        grouped_rows ? row.label + " (" + std::to_string(row.clients) + ")" : row.label;
    o += text(x0 - 6, y + rh / 2 + 3.5, "end",
              tooltip(name + ": " + std::to_string(row.spans.size()) + " connections") +
                  esc(truncated(name, 26)));
    if (grouped_rows) {
      o += band(row, f, x0, w, y + rh - 2, rh - 4);
      continue;
    }
    for (const auto& [a, b] : row.spans) {
      const double xa = f.x(a, x0, w), xb = f.x(b, x0, w);
      o += rect("conn", xa, y + 3, std::max(0.8, xb - xa), rh - 6,
                row.label + ": connected " + fmt("%.6f", a) + "–" + fmt("%.6f", b) + " s");
      // A tick where it ended: a reconnection within milliseconds leaves no
      // visible gap.
      if (b < f.duration * (1 - 1e-9))
        o += rect("drop", xb - 0.75, y + 1, 1.5, rh - 2,
                  row.label + ": disconnected at " + fmt("%.6f", b) + " s");
    }
  }
  fault_marks(o, f, x0, w, top, bottom);
  time_axis(o, f, x0, w, bottom + 2);
  o += "</svg></div><p class=\"legend small\">";
  o += grouped_rows
           ? "<span class=\"sw sw-band\"></span>clients connected, per name prefix (the "
             "lowest count in each pixel column; the row's height is all of them) "
           : "<span class=\"sw sw-conn\"></span>connected <span class=\"sw sw-drop\"></span>"
             "disconnected ";
  o += "<span class=\"sw sw-fault\"></span>fault <span class=\"sw sw-rec\"></span>repair or "
       "restart <span class=\"sw sw-stage\"></span>stage <span class=\"sw sw-heal\"></span>heal";
  if (f.heal >= 0) o += " <span class=\"sw sw-live\"></span>liveness phase";
  o += "</p>";
  if (f.marks.empty()) return void(o += "</section>");
  // The marks as text too: readable without hovering.
  o += "<details><summary>All " + std::to_string(f.marks.size()) +
       " stages and faults</summary><div class=\"scroll\"><table class=\"marks\"><tbody>";
  for (std::size_t i = 0; i < f.marks.size() && i < 1000; ++i) {
    put(o, "<tr><td class=\"num\">", fmt("%.6f", f.marks[i].t), "</td><td class=\"",
        mark_class(f.marks[i].kind), "\">", esc(f.marks[i].what), "</td></tr>");
  }
  if (f.marks.size() > 1000)
    o += "<tr><td></td><td>… and " + std::to_string(f.marks.size() - 1000) + " more</td></tr>";
  o += "</tbody></table></div></details></section>";
}

// --- Throughput ----------------------------------------------------------------

void throughput(std::string& o, const Figures& f) {
  o += "<section id=\"throughput\"><h2>Throughput</h2>";
  const auto& v = f.per_s;
  double total = 0, peak = 0;
  std::size_t peak_at = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    total += v[i];
    if (v[i] > peak) peak = v[peak_at = i];
  }
  if (!(total > 0)) return void(o += "<p class=\"muted\">No deliveries.</p></section>");
  const double x0 = 56, w = fig_w - x0 - 16, top = 12, h = 170, base = top + h;
  const double step = tick_step(peak, 5);
  const double ymax = std::ceil(peak / step) * step;
  auto y = [&](double val) { return base - h * val / ymax; };
  auto x = [&](std::size_t second) { return f.x(static_cast<double>(second), x0, w); };
  o += "<div class=\"fig\"><svg viewBox=\"0 0 " + px(fig_w) + " " + px(base + 36) +
       "\" role=\"img\" aria-label=\"deliveries per second of virtual time\">";
  for (double t = 0; t <= ymax + step * 1e-9; t += step)
    o += line("grid", x0, y(t), x0 + w, y(t)) + text(x0 - 5, y(t) + 3.5, "end", tick_label(t));
  for (const Mark& m : f.marks) {
    if (m.kind != MarkKind::stage && m.kind != MarkKind::heal) continue;
    const double mx = f.x(m.t, x0, w);
    o += line(m.kind == MarkKind::heal ? "heal" : "stage", mx, top, mx, base,
              seconds(m.t) + ": " + m.what);
  }
  // A step for each second of virtual time (equal seconds merged).
  std::string d = "M" + px(x0) + "," + px(base);
  for (std::size_t i = 0, e = 0; i < v.size(); i = e) {
    for (e = i; e < v.size() && v[e] == v[i]; ++e) {
    }
    put(d, "L", px(x(i)), ",", px(y(v[i])), "L", px(x(e)), ",", px(y(v[i])));
  }
  put(o, "<path class=\"area\" d=\"", d, "L", px(x(v.size())), ",", px(base), "Z\"/>");
  // Each second's count as a tooltip, while they are wide enough to hover.
  for (std::size_t i = 0; i < v.size() && v.size() <= 600; ++i) {
    o += rect(
        "hover", x(i), top, x(i + 1) - x(i), h,
        std::to_string(i) + "–" + std::to_string(i + 1) + " s: " + grouped(v[i]) + " deliveries");
  }
  o += text(x0 + 4, top + 10, "start", "deliveries per second", "muted");
  time_axis(o, f, x0, w, base);
  o += "</svg></div><p class=\"small\">" + grouped(total) + " deliveries; peak " + grouped(peak) +
       "/s in second " + std::to_string(peak_at) + "; mean " +
       fmt("%.1f", total / static_cast<double>(v.size())) + "/s over the " +
       std::to_string(v.size()) + " s that had any.</p></section>";
}

// --- Latency -------------------------------------------------------------------

void latency(std::string& o, const Json& r) {
  o += "<section id=\"latency\"><h2>Delivery latency</h2><p class=\"small muted\">From the "
       "publisher's call to the delivery, in virtual time; retained deliveries are left out.</p>";
  static const char* const names[] = {"<100µs", "<1ms", "<10ms", "<100ms", "<1s", "<10s", "≥10s"};
  std::string hists;
  for (const auto& [q, samples] : obj(at(r, "latency_us")).items()) {
    std::vector<double> v;
    for (const Json& s : arr(samples))
      if (s.is_number()) v.push_back(s.get<double>());
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    double bucket[7] = {};
    for (const double us : v) {
      std::size_t b = 0;
      for (double edge = 100; b < 6 && us >= edge; edge *= 10)
        ++b;
      ++bucket[b];
    }
    auto pct = [&](double p) {  // nearest rank
      const auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
      return micros(v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)]);
    };
    const double most = *std::max_element(std::begin(bucket), std::end(bucket));
    const double n = static_cast<double>(v.size());
    std::string svg = "<svg viewBox=\"0 0 330 170\" role=\"img\" aria-label=\"latency histogram\">";
    for (std::size_t b = 0; b < 7; ++b) {
      const double bh = std::max(110 * bucket[b] / most, bucket[b] > 0 ? 1.0 : 0.0);
      const double x = 8 + 46 * static_cast<double>(b);
      svg += rect("bar", x, 130 - bh, 38, bh,
                  std::string(names[b]) + ": " + grouped(bucket[b]) + " (" +
                      fmt("%.1f", 100.0 * bucket[b] / n) + "%)") +
             text(x + 19, 126 - bh, "middle", tick_label(bucket[b])) +
             text(x + 19, 146, "middle", esc(names[b]));
    }
    svg += line("axis", 4, 130.5, 326, 130.5) + "</svg>";
    hists += "<div class=\"hist\"><h3>QoS " + esc(q) + "</h3><p class=\"small\">" + grouped(n) +
             " deliveries · p50 <b>" + pct(0.5) + "</b> · p90 <b>" + pct(0.9) + "</b> · p99 <b>" +
             pct(0.99) + "</b> · max <b>" + micros(v.back()) + "</b></p>" + svg + "</div>";
  }
  o += hists.empty() ? "<p class=\"muted\">No deliveries were timed.</p>"
                     : "<div class=\"hists\">" + hists + "</div>";
  o += "</section>";
}

}  // namespace

std::string html_report(const nlohmann::ordered_json& report_json) {
  const Json& r = report_json;
  const Figures f = read_figures(r);
  const VerdictLook v = look(str(at(r, "verdict")));
  std::string o;
  o.reserve(std::size_t{1} << 16);
  // default-src 'none': the browser itself refuses any fetch the page might try.
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\"><title>" +
       esc(str(at(r, "scenario")) + " seed " + str(at(r, "seed")) + ": " + v.text) +
       "</title><style>" + std::string(html_style) + "</style></head><body><main>";
  header(o, r, f);
  o += "<section id=\"verdicts\"><h2>Checkers</h2>";
  invariants_table(o, r);
  findings_list(o, r);
  o += "</section>";
  timeline(o, f);
  throughput(o, f);
  latency(o, r);
  o += "</main></body></html>\n";
  return o;
}

}  // namespace assay::sim
