// The report page (html.hpp): its header, the checkers' table and the
// findings here, its figures in html_charts.cpp, the pieces both use in
// html_parts.hpp. Everything is drawn as inline SVG in one string: no
// template engine and no chart library, so the simulator stays pure and
// the page has nothing to fetch. The report is read
// defensively (a missing or mistyped key is an empty figure), because the
// page is also made from report files that other versions wrote.
#include "assay/sim/html.hpp"

#include "html_parts.hpp"
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

using namespace html_detail;

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
  for (const auto& item : obj(counts).items()) {
    const std::string& k = item.key();  // not a structured binding: clang 14 cannot capture one
    if (std::none_of(std::begin(catalog), std::end(catalog),
                     [&](const Invariant& inv) { return has(inv.keys, k); }))
      other += "<span class=\"chip\">" + esc(k) + " " + esc(str(item.value())) + "</span> ";
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
