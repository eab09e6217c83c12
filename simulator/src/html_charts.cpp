// The report page's figures: the timeline of connections with the faults
// and the heal, deliveries per second, and latency histograms per QoS, as
// inline SVG.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "html_parts.hpp"

namespace assay::sim::html_detail {

namespace {

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
  std::string d;
  put(d, "M", px(x0), ",", px(base));  // put(): GCC 12 warns falsely on "M" + ...
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

}  // namespace

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
  std::string d;
  put(d, "M", px(x0), ",", px(base));  // put(): GCC 12 warns falsely on "M" + ...
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

}  // namespace assay::sim::html_detail
